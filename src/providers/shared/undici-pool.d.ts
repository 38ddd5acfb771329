// undici's Pool by its own file (see http-client.ts): the same class the index exports.
declare module 'undici/lib/dispatcher/pool.js' {
  import { Pool } from 'undici';
  export default Pool;
}
