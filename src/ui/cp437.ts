/**
 * Code page 437, the IBM PC's character set, as Unicode: what the VGA's character generator draws for each
 * byte of text memory. 0x00-0x1F are the graphic symbols (smileys, card suits, arrows) the ROM font has in
 * place of control characters; 0xB0-0xDF are the box-drawing and shade characters text-mode UIs are made of.
 */
export const CP437: readonly string[] = Array.from(
  '\u00a0☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼' +
    ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~⌂' +
    'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»' +
    '░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
    'αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0',
);

if (CP437.length !== 256) throw new Error(`CP437 table has ${CP437.length} entries`);

/** The standard VGA text palette (0xRRGGBB), used until a frame brings the guest's own. */
export const VGA_PALETTE: readonly number[] = [
  0x000000, 0x0000aa, 0x00aa00, 0x00aaaa, 0xaa0000, 0xaa00aa, 0xaa5500, 0xaaaaaa, 0x555555, 0x5555ff,
  0x55ff55, 0x55ffff, 0xff5555, 0xff55ff, 0xffff55, 0xffffff,
];
