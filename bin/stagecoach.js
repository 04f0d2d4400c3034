#!/usr/bin/env node
// The `stagecoach` command: loads the TypeScript CLI through tsx (a runtime dependency), so
// there is no build step; `npx stagecoach` in the project runs this file.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
