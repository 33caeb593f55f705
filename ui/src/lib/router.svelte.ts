// Hash router: #/runs, #/runs/<id>, #/sweeps/<id>, #/compare/<id>,<id>…, #/new, #/new/<id> (a run again, with changes), #/accounts, #/setup.

export type Route =
  | { name: 'runs' }
  | { name: 'run'; id: string }
  | { name: 'compare'; ids: string[] }
  | { name: 'sweep'; id: string }
  | { name: 'new'; from?: string }
  | { name: 'accounts' }
  | { name: 'setup' };

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/^\/+/, '').replace(/\/+$/, '');
  const [head, ...rest] = path.split('/');
  switch (head) {
    case '':
    case 'runs':
      return rest.length > 0 && rest[0] ? { name: 'run', id: decodeURIComponent(rest.join('/')) } : { name: 'runs' };
    case 'sweeps':
      return rest.length > 0 && rest[0] ? { name: 'sweep', id: decodeURIComponent(rest.join('/')) } : { name: 'runs' };
    case 'compare':
      return { name: 'compare', ids: (rest[0] ?? '').split(',').filter(Boolean).map(decodeURIComponent) };
    case 'new':
      return rest.length > 0 && rest[0] ? { name: 'new', from: decodeURIComponent(rest.join('/')) } : { name: 'new' };
    case 'accounts':
      return { name: 'accounts' };
    case 'setup':
      return { name: 'setup' };
    default:
      return { name: 'runs' };
  }
}

export function href(route: Route): string {
  switch (route.name) {
    case 'run':
      return `#/runs/${encodeURIComponent(route.id)}`;
    case 'sweep':
      return `#/sweeps/${encodeURIComponent(route.id)}`;
    case 'compare':
      return `#/compare/${route.ids.map(encodeURIComponent).join(',')}`;
    case 'new':
      return route.from ? `#/new/${encodeURIComponent(route.from)}` : '#/new';
    default:
      return `#/${route.name}`;
  }
}

class Router {
  current = $state<Route>(parseHash(typeof location === 'undefined' ? '' : location.hash));

  constructor() {
    if (typeof window !== 'undefined') {
      window.addEventListener('hashchange', () => {
        this.current = parseHash(location.hash);
      });
    }
  }

  go(route: Route): void {
    const target = href(route);
    if (location.hash === target) this.current = parseHash(target);
    else location.hash = target;
  }
}

export const router = new Router();
