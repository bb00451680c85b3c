#!/usr/bin/env node
// `presence`, the operator CLI: loads tsx so that the TypeScript entry runs as it is, without a build step.
import { register } from 'tsx/esm/api';

register();
await import('./presence.ts');
