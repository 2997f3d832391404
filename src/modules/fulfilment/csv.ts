/**
 * RFC 4180 CSV. Text that a spreadsheet would run as a formula (=, +, -, @ first) is prefixed with
 * an apostrophe: product and customer names come from other people's input. Read with `;` as the
 * separator (much of Europe), a quote is special only at the start of a cell, so a quoted cell
 * after the first one in its row falls apart at each `;`, tab or line break in it; each such piece
 * would start a cell of its own, so a formula character starting one (after any quotes and
 * spaces) gets the apostrophe too. A tab or carriage return first gets one as well (OWASP).
 */
export function toCsv(header: readonly string[], rows: readonly (readonly (string | number | boolean | null)[])[]): string {
  return [header, ...rows].map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n';
}

function cell(value: string | number | boolean | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string') {
    text = text.replace(/(^|[,;\t\r\n])(["\s]*)([=+\-@])/g, "$1$2'$3").replace(/^[\t\r]/, "'$&");
  }
  return /[",;\t\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
