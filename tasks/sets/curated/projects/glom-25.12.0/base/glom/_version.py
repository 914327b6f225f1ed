version_info = (25, 12, 0)
__version__ = '.'.join([str(part) for part in version_info if part or part == 0])
