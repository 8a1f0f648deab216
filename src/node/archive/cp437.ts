/**
 * Zip's legacy name encoding. Names without the UTF-8 flag are officially IBM code page 437;
 * most tools that omit the flag actually write UTF-8, so that is tried first (see zip-directory).
 *
 * @module
 */

// The characters of bytes 0x80 to 0xff; 0x00 to 0x7f are ASCII.
const HIGH_HALF =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

export function decodeCp437(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte < 0x80 ? String.fromCharCode(byte) : HIGH_HALF[byte - 0x80];
  return out;
}
