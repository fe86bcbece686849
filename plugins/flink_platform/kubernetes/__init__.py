"""Kubernetes side of provisioning: manifests, a small client, Helm-in-a-pod, readiness."""
