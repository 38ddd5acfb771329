export * from './config-schema.ts';
export * from './load-config.ts';
export * from './default-config.ts';
export * from './resolve-store-config.ts';
