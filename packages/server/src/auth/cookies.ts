/** The value of one cookie from a Cookie header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return decodeCookieValue(part.slice(eq + 1).trim());
  }
  return null;
}

/**
 * A cookie value without its percent-escapes; a malformed escape (`%`, `%zz`) leaves the text
 * as sent, which no session token matches, so it is refused as INVALID_TOKEN like any other.
 */
function decodeCookieValue(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
