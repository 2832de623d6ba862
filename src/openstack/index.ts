// The OpenStack client: clouds.yaml parsing, Keystone v3 auth and catalog, Glance v2 images,
// over node:http(s) (see tls-fetch.ts), through the model's proxy when one is given (proxy.ts).
// Charm-agnostic. Hooks that only check clouds.yaml can import ./clouds.js alone; ./client.js
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
export { glanceRoot, imagesUrl, type Image, type ImageFilters } from './glance.js';
export { OpenStackClient, getLatestImage, type ClientOptions, type LatestImage, type LatestImageOptions } from './client.js';
