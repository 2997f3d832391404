import { describe, expect, it } from 'vitest';
import { toCsv } from '../../src/modules/fulfilment/csv.js';

/**
 * Cells as a spreadsheet (or Python's csv module) reads a file with `delimiter`: a quote is
 * special only at the start of a cell, elsewhere a plain character, and a line break ends a row.
 */
function readCells(text: string, delimiter: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let atStart = true;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (atStart && c === '"') {
      quoted = true;
      atStart = false;
    } else if (c === delimiter || c === '\n' || c === '\r') {
      cells.push(cell);
      cell = '';
      atStart = true;
      if (c === '\r' && text[i + 1] === '\n') i++;
    } else {
      cell += c;
      atStart = false;
    }
  }
  if (cell) cells.push(cell);
  return cells;
}

describe('CSV downloads', () => {
  it('keep text that a spreadsheet would run as a formula inert, and quote what it would split', () => {
    const csv = toCsv(['product', 'customer', 'qty'], [
      ['Kale;=cmd|\'/C calc\'!A0', 'ana;-2+3', 3],
      ['=1+1', '\t=1+1', -2],
      ['say "hi", then\nleave', 'L\t=2+3', null],
      ['Plain', '@sum', true],
    ]);
    expect(csv.split('\r\n')).toEqual([
      'product,customer,qty',
      // Quoted, for a reader separating cells with ","; and the formula after each ";" gets an
      // apostrophe, for one separating them with ";".
      '"Kale;\'=cmd|\'/C calc\'!A0","ana;\'-2+3",3',
      // A leading formula character gets an apostrophe; numbers are numbers, not text.
      "'=1+1,\"'\t'=1+1\",-2",
      '"say ""hi"", then\nleave","L\t\'=2+3",',
      "Plain,'@sum,true",
      '',
    ]);
  });

  it('leave no cell starting with a formula character, whether read with commas, semicolons or tabs', () => {
    const hostile = [
      "ana\n=cmd|' /C calc'!A0;x", 'bo;=1+1', 'bo;"=1+1', 'bo; =1+1', 'x\r\n@SUM(A1)', 'a,=1', 'a\t+1', '-1', ' =1', '"=1',
    ];
    const csv = toCsv(['first', 'second', 'third'], hostile.map((text) => [text, text, text]));
    for (const delimiter of [',', ';', '\t']) {
      const cells = readCells(csv, delimiter);
      expect(cells.filter((c) => /^\s*["\s]*[=+\-@]/.test(c)), `read with ${JSON.stringify(delimiter)}`).toEqual([]);
    }
    // Read as written (with ","), every cell is the text it was, but for the apostrophes.
    expect(readCells(csv, ',').slice(3).map((c) => c.replace(/'(?=[=+\-@])/g, ''))).toEqual(hostile.flatMap((text) => [text, text, text]));
  });
});
