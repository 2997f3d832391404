import { describe, expect, it } from 'vitest';
import { toCsv } from '../../src/modules/fulfilment/csv.js';

describe('CSV downloads', () => {
  it('keep text that a spreadsheet would split or run as a formula inert, in any cell-separator locale', () => {
    const csv = toCsv(['product', 'customer', 'qty'], [
      ['Kale;=cmd|\'/C calc\'!A0', 'ana;-2+3', 3],
      ['=1+1', '\t=1+1', -2],
      ['say "hi", then\nleave', 'L\t=2+3', null],
      ['Plain', '@sum', true],
    ]);
    expect(csv.split('\r\n')).toEqual([
      'product,customer,qty',
      // A ";" would start a new cell where ";" separates cells: quoted, the text stays one cell.
      '"Kale;=cmd|\'/C calc\'!A0","ana;-2+3",3',
      // A leading formula character gets an apostrophe; numbers are numbers, not text.
      "'=1+1,\"'\t=1+1\",-2",
      '"say ""hi"", then\nleave","L\t=2+3",',
      "Plain,'@sum,true",
      '',
    ]);
  });
});
