"""OAuth 2.0 client credentials (RFC 6749 4.4): services get short-lived
access tokens for an account's webapi with a client id and secret.

clients.py      client ids and secrets, making clients, checking a client's
                secret, and which scopes a request is granted
grant.py        reading a token request (form, client authentication) and
                the error answers of RFC 6749 5.2, without I/O
keys.py         the keys that sign access tokens: making, rotating,
                publishing (JWKS) and caching them
accesstoken.py  issuing access tokens (JWTs, RFC 9068) and checking them
resource.py     POST /oauth/token and GET /.well-known/jwks.json on the
                webapi's HTTP listeners

An access token acts for the client's account with the scopes it was
granted, as an API token with those scopes would (moxpy/tokens.py, whose
authenticate() accepts both kinds). Clients and keys are kept in mox.db
(store/oauth.py); clients are made only by the operator, with `mox.py
client add`. Nothing here imports PyJWT until a token is issued or
checked.
"""
