import type { GraphQLClient } from './graphql.js';
import { createHub, createProducer, createProduct, createSession } from './scenarios.js';

/**
 * A small named world most order tests start from: one hub with a session open from 07:00 to 20:00
 * on Monday 23 November 2026 (Paris), two producers, and their products in stock.
 */
export async function openSessionWorld(api: GraphQLClient, stock: { carrots?: string; eggs?: string; bread?: string } = {}) {
  const jean = await createProducer(api, 'Jean (vegetables)');
  const marie = await createProducer(api, 'Marie (eggs and bread)');
  const carrots = await createProduct(api, jean, { name: 'Carrots', unit: 'kg', onHand: stock.carrots ?? '10' });
  const eggs = await createProduct(api, marie, { name: 'Eggs', unit: 'each', onHand: stock.eggs ?? '60' });
  const bread = await createProduct(api, marie, { name: 'Bread', unit: 'each', onHand: stock.bread ?? '5' });
  const hub = await createHub(api, 'Hub A');
  const session = await createSession(api, hub, {
    opensAt: '2026-11-23T07:00:00+01:00',
    closesAt: '2026-11-23T20:00:00+01:00',
    products: [carrots, eggs, bread],
  });
  return { jean, marie, carrots, eggs, bread, hub, session };
}
