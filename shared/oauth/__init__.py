"""OAuth 2.0 pieces shared by Loket.nl and AFAS SB: state + PKCE, and rotation-safe tokens."""
