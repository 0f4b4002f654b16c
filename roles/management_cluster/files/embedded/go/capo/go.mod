// Download-only module: pins Cluster API provider OpenStack. Nothing is built from it; the
// runtime reads the CRDs from its config/crd/bases in the module cache.
module scs.kaas/embedded/capo

go 1.26.0

require sigs.k8s.io/cluster-api-provider-openstack v0.14.7
