/** The policy checker's "did you mean" hints share the schema package's name matcher. */
export { closest, didYouMean } from '@mast/schema';
