export { fleetEntry, MAX_TOP, parseTop, rankFleet } from './rank';
export type { FleetEntry, FleetView } from './rank';
