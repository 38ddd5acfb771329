/**
 * The Redis the suite runs against: TEST_REDIS_URL, which test/global-setup.ts sets to a private redis-server
 * when the caller gave none.
 */
const url = new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');

export const TEST_REDIS = {
  url: url.toString().replace(/\/$/, ''),
  host: url.hostname,
  port: Number(url.port || 6379),
} as const;
