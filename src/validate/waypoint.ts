import type { Validator } from './index.js';

// Placeholder until the validation issue fills it in.
export const validateWaypoints: Validator = () => [];
