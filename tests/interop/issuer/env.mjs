// The one helper the issuer's scripts share: a setting they cannot run without.
export function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}
