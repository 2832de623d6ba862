// Provided at bundle time by scripts/bundle.mjs: the charm's metadata, config and actions.
declare module 'virtual:charm-meta' {
  const meta: import('./ops/meta.js').CharmMeta;
  export default meta;
}
