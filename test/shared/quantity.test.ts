import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { formatQuantity } from '../../src/shared/quantity.js';

describe('formatQuantity', () => {
  it('writes what PostgreSQL returns in the shortest exact form', () => {
    const cases = ['0', '0.000', '0.500', '7.500', '10', '1000.000', '1000.010', '999999999.999', '-2.500', '-0.000', '2.5e3', '5.'];
    expect(cases.map(formatQuantity)).toEqual(cases.map((c) => new Decimal(c).toFixed()));
    expect(formatQuantity('1000.000')).toBe('1000');
    expect(formatQuantity('0.500')).toBe('0.5');
  });

  it('agrees with decimal.js on every numeric(15,3) text over a sweep', () => {
    const texts: string[] = [];
    for (let whole = 0; whole < 2000; whole += 7) for (let thousandths = 0; thousandths < 1000; thousandths += 37) texts.push(`${whole}.${String(thousandths).padStart(3, '0')}`, `${whole}`);
    expect(texts.filter((t) => formatQuantity(t) !== new Decimal(t).toFixed())).toEqual([]);
  });
});
