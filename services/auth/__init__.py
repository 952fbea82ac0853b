"""Auth service: tokens for subjects, API keys with permissions, and Envoy's ext_authz check."""
