// The OpenStack client: clouds.yaml parsing, Keystone v3 auth and catalog, Glance v2 images,
// over node:http(s) (see tls-fetch.ts), through the model's proxy when one is given (proxy.ts).
// Copies between clouds (copy.ts) stream image data with backpressure; prune.ts keeps a name to N
// revisions. Charm-agnostic. Hooks that only check clouds.yaml can import ./clouds.js alone; ./client.js
// pulls in the HTTP side (node:https on the first https request, the proxy agents on the first
// proxied one).
export { CLOUD_NAME_PATTERN, isValidCloudName } from './cloud-name.js';
export {
  CloudsYamlError,
  MAX_CLOUDS_YAML_BYTES,
  parseCloudsYaml,
  resolveCloud,
  type CloudConfig,
  type EndpointInterface,
  type ParsedClouds,
} from './clouds.js';
export { cloudWarnings, isLoopback } from './warnings.js';
export { OpenStackError, type OpenStackErrorKind } from './errors.js';
export { bypassesProxy, parseNoProxy, type NoProxyRules } from './no-proxy.js';
export { proxyRouter, type ProxyRoute, type ProxyRouter, type ProxySettings } from './proxy.js';
export { DEFAULT_TIMEOUT_MS, type FetchFn } from './http.js';
export { authenticate, authRequestBody, findEndpoint, type CatalogService, type CatalogEndpoint, type KeystoneToken } from './keystone.js';
export { glanceRoot, imagesUrl, type Image, type ImageDetails, type ImageFilters } from './glance.js';
export {
  DEFAULT_IDLE_TIMEOUT_MS,
  OpenStackClient,
  getLatestImage,
  type ClientOptions,
  type ImageDownload,
  type LatestImage,
  type LatestImageOptions,
} from './client.js';
export {
  COPY_NODE_FLAGS,
  DEFAULT_COPY_ATTEMPTS,
  DEFAULT_COPY_CONCURRENCY,
  copiedFields,
  copyImage,
  copyToClouds,
  findIdenticalImage,
  sameData,
  type CopiedImage,
  type CopyOptions,
  type CopyResult,
  type CopyToCloudsOptions,
} from './copy.js';
export { pruneImages, type PruneResult } from './prune.js';
