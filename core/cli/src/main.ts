#!/usr/bin/env node
/** The `peftkit` executable. */
import { main } from './cli.js';

process.exitCode = await main(process.argv.slice(2));
