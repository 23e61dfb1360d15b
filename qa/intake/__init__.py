"""Stage 0, what arrives: call metadata (sidecars, manifests) and transcript files from elsewhere."""
