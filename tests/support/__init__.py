"""Helpers the tests share: loopback HTTP servers, real server processes, payload builders."""
