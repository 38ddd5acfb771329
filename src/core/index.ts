export * from './chat.ts';
export * from './embeddings.ts';
export * from './gateway-error.ts';
export * from './stream-part.ts';
export * from './capabilities.ts';
export * from './estimate-tokens.ts';
export * from './json-depth.ts';
