export interface StackEvent {
  readonly component: 'kafka' | 'redis';
  readonly state: 'reused' | 'starting' | 'started' | 'stopped' | 'not-running' | 'up' | 'down';
  readonly detail: string;
}

export interface StackComponent {
  readonly name: 'kafka' | 'redis';
  up(say: (event: StackEvent) => void): Promise<void>;
  down(say: (event: StackEvent) => void): Promise<void>;
  status(): Promise<StackEvent>;
}
