-- Nonces of accepted signatures (signature auth mode): a nonce is accepted
-- once while its signature could still be valid. Expired ones are deleted a
-- few at a time by the logins that come after (expires_at's index).
CREATE TABLE signature_nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX signature_nonces_expiry ON signature_nonces(expires_at);
