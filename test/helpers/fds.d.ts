/** Types of fds.js: this process's open fds, portably (see there). */
export declare function isFdOpen(fd: number): boolean;
export declare function openFdList(): number[];
export declare function openFds(): number;
export declare function probeOpenFds(): number[];
export declare function devFdWorks(): boolean;
