// A template service with the behaviour of Grafana's TemplateSrv.replace that
// the data source relies on: $name, ${name}, ${name:format} and [[name]] are
// replaced by the variable's current value (scoped variables first); a format
// function receives the value, an array for a multi-value variable.
export function templateSrv(vars) {
  const re = /\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)\]\]/g;
  const lookup = (name, scopedVars) => {
    if (scopedVars && name in scopedVars) {
      return { found: true, value: scopedVars[name].value };
    }
    if (name in vars) {
      return { found: true, value: vars[name] };
    }
    return { found: false };
  };
  return {
    getVariables: () => Object.keys(vars).map((name) => ({ name, type: 'custom' })),
    containsTemplate: (t) => !!t && [...t.matchAll(re)].some((m) => lookup(m[1] ?? m[2] ?? m[3]).found),
    replace(target, scopedVars, format) {
      if (!target) {
        return target ?? '';
      }
      return target.replace(re, (whole, a, b, c) => {
        const name = a ?? b ?? c;
        const { found, value } = lookup(name, scopedVars);
        if (!found) {
          return whole;
        }
        if (typeof format === 'function') {
          return format(value, { name });
        }
        return Array.isArray(value) ? (value.length > 1 ? `{${value.join(',')}}` : String(value[0] ?? '')) : String(value);
      });
    },
    updateTimeRange() {},
  };
}
