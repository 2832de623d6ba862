// Workload statuses. A blocked or waiting status must say what the operator should do, so an
// empty message is refused here rather than shown as a bare "blocked" in `juju status`.
import { ModelError } from './errors.js';
import type { StatusName } from './hookcmds.js';

export interface Status {
  readonly status: StatusName;
  readonly message: string;
}

const make = (status: StatusName, message: string, needsMessage: boolean): Status => {
  if (needsMessage && message.trim() === '') {
    throw new ModelError(`a ${status} status needs a message that tells the operator what is wrong and what to do`);
  }
  return Object.freeze({ status, message });
};

export const ActiveStatus = (message = ''): Status => make('active', message, false);
export const MaintenanceStatus = (message: string): Status => make('maintenance', message, false);
export const WaitingStatus = (message: string): Status => make('waiting', message, true);
export const BlockedStatus = (message: string): Status => make('blocked', message, true);
