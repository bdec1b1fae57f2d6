/**
 * Masks the password of every URL in a text: `redis://user:secret@host` → `redis://user:***@host`.
 * The password runs to the last `@` before whitespace, so passwords holding `/`, `:` or `#` are masked
 * whole; a URL-ish text that is not a credential may be over-masked, which is the safe side.
 */
export function redactUrlPassword(text: string): string {
  return text.replace(/(\/\/[^:/@\s]*:)[^@\s]*@/g, '$1***@');
}
