/**
 * RFC 4180 CSV. Text that a spreadsheet would run as a formula (=, +, -, @ first) is prefixed with
 * an apostrophe: product and customer names come from other people's input. Text with a
 * semicolon or a tab is quoted too: a spreadsheet in a locale that separates cells with `;` (much
 * of Europe) would otherwise split `Kale;=1+1` and run its second half.
 */
export function toCsv(header: readonly string[], rows: readonly (readonly (string | number | boolean | null)[])[]): string {
  return [header, ...rows].map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n';
}

function cell(value: string | number | boolean | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",;\t\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
