// Copyright: scs.kaas contributors
// Apache License 2.0 (see LICENSE)

// Command etcd runs a single-member etcd server for the embedded management cluster,
// built on go.etcd.io/etcd/server/v3/embed. It only ever listens on the loopback host.
//
// Flags:
//
//	--name NAME               member name (default "embedded")
//	--data-dir DIR            data directory (required; created 0700 by etcd)
//	--client-port N           client port on 127.0.0.1 (default 2379)
//	--peer-port N             peer port on 127.0.0.1 (default 2380); single member, nothing joins it
//	--metrics-port N          extra /metrics and /health listener on 127.0.0.1 (default 0: none)
//	--cert-file/--key-file    serve the client port with TLS (both or neither)
//	--trusted-ca-file FILE    with TLS: require client certificates signed by this CA
//	--quota-backend-bytes N   backend quota (default 0: etcd's default)
//	--unsafe-no-fsync         skip fsync (test environments only: data may be lost on a crash)
//	--log-level LEVEL         debug, info, warn or error (default "warn")
//	--version                 print the etcd version and exit
//
// Without --cert-file the client port speaks plain HTTP; that is acceptable because the
// listener is bound to 127.0.0.1 only. The process stops cleanly on SIGINT/SIGTERM.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"go.etcd.io/etcd/api/v3/version"
	"go.etcd.io/etcd/server/v3/embed"
)

const host = "127.0.0.1"

func loopbackURL(scheme string, port int) url.URL {
	return url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
}

func validPort(name string, port int, allowZero bool) error {
	if (port == 0 && allowZero) || (port > 0 && port < 65536) {
		return nil
	}
	return fmt.Errorf("--%s: invalid port %d (valid: 1-65535)", name, port)
}

func main() {
	name := flag.String("name", "embedded", "member name")
	dataDir := flag.String("data-dir", "", "data directory (required)")
	clientPort := flag.Int("client-port", 2379, "client port on 127.0.0.1")
	peerPort := flag.Int("peer-port", 2380, "peer port on 127.0.0.1")
	metricsPort := flag.Int("metrics-port", 0, "metrics/health port on 127.0.0.1 (0: none)")
	certFile := flag.String("cert-file", "", "TLS certificate for the client port")
	keyFile := flag.String("key-file", "", "TLS key for the client port")
	caFile := flag.String("trusted-ca-file", "", "CA for client certificate authentication (with TLS)")
	quota := flag.Int64("quota-backend-bytes", 0, "backend quota in bytes (0: etcd default)")
	noFsync := flag.Bool("unsafe-no-fsync", false, "disable fsync (tests only)")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()

	if *showVersion {
		fmt.Printf("etcd Version: %s\n", version.Version)
		return
	}
	if flag.NArg() != 0 {
		fail(fmt.Errorf("unexpected arguments: %v", flag.Args()))
	}
	if *dataDir == "" {
		fail(fmt.Errorf("--data-dir is required"))
	}
	for _, p := range []struct {
		name      string
		port      int
		allowZero bool
	}{{"client-port", *clientPort, false}, {"peer-port", *peerPort, false}, {"metrics-port", *metricsPort, true}} {
		if err := validPort(p.name, p.port, p.allowZero); err != nil {
			fail(err)
		}
	}
	if (*certFile == "") != (*keyFile == "") {
		fail(fmt.Errorf("--cert-file and --key-file must be given together"))
	}
	if *caFile != "" && *certFile == "" {
		fail(fmt.Errorf("--trusted-ca-file needs --cert-file and --key-file"))
	}

	cfg := embed.NewConfig()
	cfg.Name = *name
	cfg.Dir = *dataDir
	cfg.LogLevel = *logLevel
	cfg.LogOutputs = []string{"stderr"}
	cfg.UnsafeNoFsync = *noFsync
	if *quota > 0 {
		cfg.QuotaBackendBytes = *quota
	}
	scheme := "http"
	if *certFile != "" {
		scheme = "https"
		cfg.ClientTLSInfo.CertFile = *certFile
		cfg.ClientTLSInfo.KeyFile = *keyFile
		if *caFile != "" {
			cfg.ClientTLSInfo.TrustedCAFile = *caFile
			cfg.ClientTLSInfo.ClientCertAuth = true
		}
	}
	clientURL := loopbackURL(scheme, *clientPort)
	peerURL := loopbackURL("http", *peerPort)
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	if *metricsPort != 0 {
		cfg.ListenMetricsUrls = []url.URL{loopbackURL("http", *metricsPort)}
	}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fail(err)
	}
	select {
	case <-e.Server.ReadyNotify():
		fmt.Fprintf(os.Stderr, "etcd %s ready, serving clients on %s\n", version.Version, clientURL.String())
	case <-time.After(120 * time.Second):
		e.Server.Stop()
		fail(fmt.Errorf("etcd did not become ready within 120s"))
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "received %s, stopping etcd\n", s)
		e.Close()
	case err := <-e.Err():
		e.Close()
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "etcd: %v\n", err)
	os.Exit(1)
}
