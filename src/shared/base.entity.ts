import { randomUUID } from 'node:crypto';
import { PrimaryKey, Property } from '@mikro-orm/core';
import { Field, ObjectType } from 'type-graphql';
import { IdScalar } from '../graphql/scalars.js';

/** Identity and creation time shared by every aggregate root. Ids are UUIDs made by the app. */
@ObjectType({ simpleResolvers: true })
export abstract class BaseEntity {
  @Field(() => IdScalar)
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}
