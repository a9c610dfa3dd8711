import { action } from '@mast/functions';
export default action({ async handler() { await new Promise((r) => setTimeout(r, 3000)); return 'late'; } });
