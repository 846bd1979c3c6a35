"""The learner wallet: credentials from every issuer, pathways, downloads, share links (services/wallet/README.md)."""
