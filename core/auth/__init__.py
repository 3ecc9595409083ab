"""Authentication controls (MLPS 2.0 level 3): the password policy, lockout with one
answer for every failure, the TOTP second factor, session lifetimes and the screens
that go with them. Wired into the app by ``core.app.configure_security``."""
