/** @peftkit/plugin-strategy-random: Random search baseline over the same space and budget. */
export {};
