import { query } from '@mast/functions';
export default query({ async handler() { return 'hi'; } });
