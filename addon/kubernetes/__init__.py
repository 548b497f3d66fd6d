"""The Kubernetes manifests (kustomize components and overlays) rendered from the configuration."""
