import { query } from '@mast/functions';
export default query({ async handler() { const end = Date.now() + 1200; while (Date.now() < end) { /* busy */ } return 'done'; } });
