// Passwords this project makes for its own database roles: generated, kept in files only their user can read,
// and sent to PostgreSQL as SCRAM verifiers, so the password itself never appears in a statement (a failing
// statement is logged by the server with its text).
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type pg from 'pg';

/** 32 random bytes as base64url: URL-safe, so it goes into a connection URL as it is. */
export function generatePassword(): string {
  return randomBytes(32).toString('base64url');
}

/** Writes a secret readable and writable by this OS user only (mode 0600, also when the file existed). */
export function writeSecretFile(path: string, secret: string): void {
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export function readSecretFile(path: string): string | null {
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : null;
}

/**
 * The verifier PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802/7677, PostgreSQL's format):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Our passwords are ASCII, so SASLprep changes nothing.
 */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** `alter role … password` with a verifier, never the password. */
export async function setRolePassword(client: pg.Client, role: string, password: string): Promise<void> {
  await client.query(`alter role ${client.escapeIdentifier(role)} password ${client.escapeLiteral(scramVerifier(password))}`);
}
