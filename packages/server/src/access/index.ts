export { AccessControl } from './access-control.js';
