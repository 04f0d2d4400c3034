/** Webhooks: created with a sealed signing secret (shown once by the API), listed, deleted. */
import type { Db } from '../db.js';
import { isUuid } from './deployments.js';

/** What the API shows of a webhook (never its secret). */
export interface WebhookInfo {
  id: string;
  url: string;
  deployment_id: string | null;
  created_at: Date;
}

const COLUMNS = ['id', 'url', 'deployment_id', 'created_at'] as const;

/** Stores a webhook; `secretSealed` is the signing secret sealed by the SecretBox. */
export async function createWebhook(
  db: Db,
  input: { url: string; deploymentId: string | null; secretSealed: string },
): Promise<WebhookInfo> {
  const [row] = (await db('webhooks')
    .insert({
      url: input.url,
      deployment_id: input.deploymentId,
      secret_sealed: input.secretSealed,
    })
    .returning([...COLUMNS])) as WebhookInfo[];
  return row!;
}

/** Every webhook, oldest first. */
export async function listWebhooks(db: Db): Promise<WebhookInfo[]> {
  return (await db('webhooks')
    .orderBy('created_at')
    .orderBy('id')
    .select(...COLUMNS)) as WebhookInfo[];
}

/** One webhook; null for an unknown or malformed id. */
export async function findWebhook(db: Db, id: string): Promise<WebhookInfo | null> {
  if (!isUuid(id)) {
    return null;
  }
  const row = (await db('webhooks')
    .where({ id })
    .first(...COLUMNS)) as WebhookInfo | undefined;
  return row ?? null;
}

/**
 * Deletes a webhook with its deliveries, pending ones included (so nothing more is sent); a
 * delivery in flight at that moment finishes, and its result is not recorded.
 */
export async function deleteWebhook(db: Db, id: string): Promise<boolean> {
  if (!isUuid(id)) {
    return false;
  }
  return (await db('webhooks').where({ id }).del()) > 0;
}
