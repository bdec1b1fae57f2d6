export {
  AGE_CAP_MS,
  channelCount,
  channelNames,
  EXTRA_FEATURES,
  fillExtraChannels,
  formatExtraFeatures,
  NO_EXTRA_FEATURES,
  parseExtraFeatures,
  sensorColumns,
} from './extras';
export type { ExtraFeature, ExtraFeatureChoice, ExtraFeatures, WindowContext } from './extras';
export { windowContext } from './context';
