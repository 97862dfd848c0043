export { startDashboard, dashboardToken, isLoopback, type Dashboard, type ServeOptions } from './server.js';
export { listDirs, type Listed } from './discover.js';
export { JsonlTail } from './tail.js';
export { compareState, type CompareState, type LiveCell } from './compare-state.js';
