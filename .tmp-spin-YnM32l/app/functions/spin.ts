import { query } from '@mast/functions';
export default query({ async handler() { await Promise.resolve(); for (;;) { /* never yields */ } } });
